use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(index(name, where = "id > 0, name <> ''"))]
struct User {
    #[d1(primary_key)]
    id: i64,
    name: String,
    #[d1(default_sql = "1); DROP TABLE x; --")]
    visits: i64,
}

fn main() {}
