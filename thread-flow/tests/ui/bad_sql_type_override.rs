use thread_flow::D1Target;

#[derive(D1Target)]
struct Note {
    #[d1(primary_key)]
    id: i64,
    #[d1(sql_type = "INTEGER")]
    title: String,
    #[d1(sql_type = "TEXT")]
    ok_as_text: i64,
}

fn main() {}
