//! The state_channels example against its contract
//! (`examples/state_channels/conformance.json`), over real sockets.

#[path = "../examples/state_channels/app.rs"]
mod app;
mod script;

use wskit_examples::TestServer;

#[tokio::test]
async fn state_channels_meets_its_contract() {
    script::run_file("examples/state_channels/conformance.json", || {
        Box::pin(TestServer::start(app::server()))
    })
    .await;
}
