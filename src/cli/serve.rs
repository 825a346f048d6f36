//! `graph-meetings emulator`: the local Graph stand-in as a process, for other programs (and
//! Microsoft's SDKs) to talk to. Its first stdout line is `listening on http://127.0.0.1:PORT`
//! so a caller that asked for port 0 learns the port.

use super::{args::EmulatorArgs, failure::Failure, logging, terminal};
use crate::emulator::Emulator;

pub(super) async fn run(args: EmulatorArgs) -> Result<(), Failure> {
    logging::init(args.verbose);
    let emu = Emulator::builder()
        .port(args.port)
        .start()
        .await
        .map_err(|e| Failure::Other(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let root = emu.base_url();
    if !terminal::stdout(&format!("listening on {root}\n")) {
        return Err(Failure::Other("stdout could not be written".into()));
    }
    // The client-credentials line unsets GRAPH_TOKEN: it wins when both are set, and README's
    // steps export it in the shell this is likely pasted into.
    terminal::stderr(&format!(
        "Any bearer token is the demo user's delegated token; the token endpoint issues application tokens.\n\
         Try:  GRAPH_BASE_URL={root} GRAPH_TOKEN=any-token graph-meetings create-or-get --external-id demo-1\n\
         or:   env -u GRAPH_TOKEN GRAPH_BASE_URL={root} AZURE_AUTHORITY_HOST={root} \\\n\
         \x20     AZURE_TENANT_ID=contoso.example AZURE_CLIENT_ID=app AZURE_CLIENT_SECRET=any \\\n\
         \x20     graph-meetings create --user alex@contoso.example\n\
         Faults and counters: {root}/_emulator/faults, {root}/_emulator/stats. Ctrl-C stops.\n"
    ));
    stopped().await;
    emu.shutdown();
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No way to be told to stop: serve until killed.
        std::future::pending::<()>().await;
    }
}
