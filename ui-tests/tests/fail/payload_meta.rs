use wskit::payload;

#[payload]
pub struct Trace {
    pub id: String,
}

#[payload(meta = Trace)]
pub struct Point {
    pub x: f64,
}

fn main() {}
