//! Seconds since 1970 as a UTC calendar date, for every report that shows
//! one. Written by hand (the proleptic Gregorian days-to-civil conversion)
//! rather than pulling in a date crate for two lines of output.

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl UtcTime {
    pub fn from_unix(seconds: u64) -> UtcTime {
        let days = (seconds / 86_400) as i64;
        let rem = seconds % 86_400;
        // Days since 1970-01-01 to a civil date, counting in 400-year eras
        // that start on 0000-03-01 (so leap days fall at the end of a year).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        UtcTime {
            year: yoe + era * 400 + i64::from(month <= 2),
            // month 1..=12, day 1..=31, and the time of day fit a u8.
            month: month as u8,
            day: day as u8,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let t = UtcTime::from_unix(1_795_393_664);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2026, 11, 23, 0, 27, 44)
        );
        let leap = UtcTime::from_unix(951_782_400);
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
    }
}
