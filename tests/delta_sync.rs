//! The delta_sync example against its contract (`examples/delta_sync/conformance.json`),
//! over real sockets.

#[path = "../examples/delta_sync/app.rs"]
mod app;
mod script;

use wskit_examples::TestServer;

/// Operations the server under test keeps, as the contract file assumes.
const HISTORY: usize = 4;

#[tokio::test]
async fn delta_sync_meets_its_contract() {
    script::run_file("examples/delta_sync/conformance.json", || {
        Box::pin(TestServer::start(app::server(HISTORY)))
    })
    .await;
}
