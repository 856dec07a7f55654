use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(
    index(email, where = "emial IS NOT NULL"),
    index(name, where = "\"nickname\" <> 'x'"),
    index(rank, where = "rank > 0"),
    index(name, name = "users_recent", where = "other.id > 0 AND random() > 0")
)]
struct User {
    #[d1(primary_key)]
    id: i64,
    name: String,
    email: Option<String>,
    #[d1(rename = "position")]
    rank: i64,
}

fn main() {}
