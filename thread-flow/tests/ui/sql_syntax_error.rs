use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(index(name, where = "name >"))]
struct User {
    #[d1(primary_key)]
    id: i64,
    name: String,
    #[d1(default_sql = "lower('A'")]
    city: String,
}

fn main() {}
