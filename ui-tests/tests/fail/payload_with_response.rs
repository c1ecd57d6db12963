use wskit::payload;

#[payload(response = Point)]
pub struct Point {
    pub x: f64,
}

fn main() {}
