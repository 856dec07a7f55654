use thread_flow::D1Target;

#[derive(D1Target)]
struct User {
    #[d1(primary_key)]
    id: i64,
    email: String,
    #[d1(rename = "EMAIL")]
    backup_email: String,
}

fn main() {}
