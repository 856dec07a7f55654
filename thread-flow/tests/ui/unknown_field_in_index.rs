use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(index(nmae), unique(id, emial, name = "users_email"))]
struct User {
    #[d1(primary_key)]
    id: i64,
    name: String,
    email: String,
}

fn main() {}
