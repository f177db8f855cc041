//! Crash analysis: placeholder
