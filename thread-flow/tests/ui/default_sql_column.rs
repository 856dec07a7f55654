use thread_flow::D1Target;

#[derive(D1Target)]
struct User {
    #[d1(primary_key)]
    id: i64,
    #[d1(default_sql = "id * 2")]
    score: i64,
    #[d1(default_sql = "\"anonymous\"")]
    name: String,
    #[d1(default_sql = "(SELECT max(id) FROM user)")]
    rank: i64,
}

fn main() {}
