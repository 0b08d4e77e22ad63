fn main() -> std::process::ExitCode {
    livewatch::cli::main()
}
