fn main() {
    eprintln!("ckdump: CLI not built yet");
    std::process::exit(2);
}
