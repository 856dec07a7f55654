//! `code-index <DIR>` (being assembled: extraction and flow are in; the D1 wiring lands with the
//! target and the derive).
#![allow(dead_code)]

mod extract;
mod flow;

fn main() {
    eprintln!("code-index: not wired yet");
}
