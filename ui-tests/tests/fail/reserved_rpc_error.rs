use wskit::message;

#[message("RPC_ERROR")]
pub struct Oops {
    pub text: String,
}

fn main() {}
