use thread_flow::D1Target;

// Every problem is reported in one compilation, each on its own span.
#[derive(D1Target)]
#[d1(table = "sqlite_notes", index(missing))]
struct Note {
    #[d1(primary_key)]
    id: f32,
    #[d1(json, sql_type = "TEXT")]
    tags: Vec<String>,
    #[d1(rename = "ID")]
    other_id: i64,
    size: u64,
}

fn main() {}
