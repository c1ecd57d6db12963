use wskit::message;

#[message("TAG")]
pub struct Tag {
    #[validate(each(length(max = 20)))]
    pub tag: String,
}

fn main() {}
