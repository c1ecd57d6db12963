use wskit::message;

#[message("SET_AGE")]
pub struct SetAge {
    #[validate(range(low = 1))]
    pub age: u32,
}

fn main() {}
