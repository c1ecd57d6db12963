use wskit::message;

pub struct User {
    pub name: String,
}

#[message("GET_USER", response = User)]
pub struct GetUser {
    pub id: String,
}

fn main() {}
