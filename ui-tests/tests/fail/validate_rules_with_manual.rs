use wskit::message;
use wskit::validate::{Issues, Path, Validate};

#[message("SAY", validate = manual)]
pub struct Say {
    #[validate(length(max = 500))]
    pub text: String,
}

impl Validate for Say {
    fn validate(&self, _at: Path<'_>, _issues: &mut Issues) {}
}

fn main() {}
