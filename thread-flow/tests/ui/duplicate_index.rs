use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(index(email, name = "by_email"), unique(name, name = "BY_EMAIL"), index(email))]
struct User {
    #[d1(primary_key)]
    id: i64,
    name: String,
    email: String,
}

fn main() {}
