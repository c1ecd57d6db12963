use wskit::message;

#[message("SET_AGE")]
pub struct SetAge {
    #[validate(length(min = 1, max = 3))]
    pub age: u32,
}

fn main() {}
