//! The `graph-meetings` command; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    graph_meetings::cli::main()
}
