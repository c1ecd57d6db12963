use wskit::message;

fn is_even(value: &u32) -> bool {
    value % 2 == 0
}

#[message("LUCKY")]
pub struct Lucky {
    #[validate(custom = is_even)]
    pub number: u32,
}

fn main() {}
