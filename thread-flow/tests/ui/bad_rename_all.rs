use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(rename_all = "camelcase")]
struct Note {
    #[d1(primary_key)]
    note_id: i64,
}

fn main() {}
