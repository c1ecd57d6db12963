use wskit::message;

#[message("WRAPPED")]
pub struct Wrapped<T> {
    pub value: T,
}

fn main() {}
