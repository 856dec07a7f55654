//! Ruby: `tree-sitter-ruby` with `queries/ruby.scm` only. The grammar's `tags.scm` tags every
//! bare identifier and constant as a call unless a locals query marks it local, and
//! `tree-sitter-tags` runs none here: every local variable read would be a call. Ours has its
//! definitions (methods, singleton methods, `alias`, classes, `class << X`, modules) plus
//! accessors (`attr_reader :a`) and `alias_method`, `require` imports, and calls with a
//! receiver or arguments. [`finish`] names accessors as Ruby does.

use std::cmp::Reverse;

use super::{Spec, first_grammar, standard_kind};
use crate::code::{Call, Symbol};

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[include_str!("../queries/ruby.scm")],
    kind: standard_kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_ruby::LANGUAGE.into()
}

/// Names taken from symbols (`attr_reader :name`, `alias_method :new, :old`,
/// `alias :new :old`) lose their `:`; `attr_writer :a` defines `a=`, `attr_accessor :a`
/// both `a` and `a=`. The call of `attr_reader` itself lies inside that definition: its
/// caller becomes the definition's parent (the class).
pub(super) fn finish(symbols: &mut Vec<Symbol>, calls: &mut Vec<Call>) {
    let mut writers = Vec::new();
    for symbol in symbols.iter_mut() {
        let Some(name) = symbol.name.strip_prefix(':') else {
            continue;
        };
        let name = name.to_owned();
        for call in calls.iter_mut() {
            if call.caller.as_deref() == Some(symbol.name.as_str())
                && (symbol.start_line..=symbol.end_line).contains(&call.line)
            {
                call.caller.clone_from(&symbol.parent);
            }
        }
        // the signature is the call's line, maybe after `private`
        let call = symbol
            .signature
            .split_whitespace()
            .find(|word| word.starts_with("attr_") || word.starts_with("alias"))
            .unwrap_or("");
        if call == "attr_writer" {
            symbol.name = format!("{name}=");
        } else {
            if call == "attr_accessor" {
                writers.push(Symbol {
                    name: format!("{name}="),
                    ..symbol.clone()
                });
            }
            symbol.name = name;
        }
    }
    calls.sort_by(|a, b| (a.line, &a.callee, &a.caller).cmp(&(b.line, &b.callee, &b.caller)));
    calls.dedup();
    if writers.is_empty() {
        return;
    }
    symbols.extend(writers);
    // The order `extract` gives: by start line, outermost first, then name.
    symbols.sort_by(|a, b| {
        (a.start_line, Reverse(a.end_line), &a.name, a.kind).cmp(&(
            b.start_line,
            Reverse(b.end_line),
            &b.name,
            b.kind,
        ))
    });
    symbols.dedup_by(|a, b| a.name == b.name && a.start_line == b.start_line);
}
