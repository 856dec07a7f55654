use thread_flow::D1Target;

#[derive(D1Target)]
#[d1(tabel = "notes", without_rowid)]
struct Note {
    #[d1(primary_key)]
    id: i64,
    #[d1(renam = "text")]
    body: String,
    #[d1(frobnicate)]
    other: String,
}

fn main() {}
