//! `thread_flow::code::extract` on small fixtures written for these tests: the exact symbols
//! (name, kind, lines, signature, parent), imports and calls per language.
#![cfg(feature = "code")]

use thread_flow::code::{
    Call, Import, Language, MAX_SIGNATURE_CHARS, SymbolKind, extract, extract_as,
};

/// (name, kind, start, end, signature, parent) for compact expectations.
type Row = (
    &'static str,
    SymbolKind,
    u32,
    u32,
    &'static str,
    Option<&'static str>,
);

type Owned = (String, SymbolKind, u32, u32, String, Option<String>);

fn rows(path: &str, src: &str) -> Vec<Owned> {
    let facts = extract(path, src).expect("supported extension");
    assert!(!facts.has_errors, "{path} should parse without errors");
    facts
        .symbols
        .into_iter()
        .map(|s| {
            (
                s.name,
                s.kind,
                s.start_line,
                s.end_line,
                s.signature,
                s.parent,
            )
        })
        .collect()
}

fn expect(path: &str, src: &str, want: &[Row]) {
    let want: Vec<Owned> = want
        .iter()
        .map(|&(n, k, s, e, sig, p)| (n.to_owned(), k, s, e, sig.to_owned(), p.map(str::to_owned)))
        .collect();
    let got = rows(path, src);
    if got != want {
        let show = |v: &[Owned]| {
            v.iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{path}: symbols differ\n--- got\n{}\n--- want\n{}",
            show(&got),
            show(&want)
        );
    }
}

fn imports(path: &str, src: &str) -> Vec<(u32, String, Vec<String>)> {
    let facts = extract(path, src).expect("supported extension");
    assert!(!facts.has_errors, "{path} should parse without errors");
    facts
        .imports
        .into_iter()
        .map(
            |Import {
                 line,
                 module,
                 names,
             }| (line, module, names),
        )
        .collect()
}

fn imp(line: u32, module: &str, names: &[&str]) -> (u32, String, Vec<String>) {
    (
        line,
        module.to_owned(),
        names.iter().map(|n| (*n).to_owned()).collect(),
    )
}

fn calls(path: &str, src: &str) -> Vec<(u32, Option<String>, String)> {
    let facts = extract(path, src).expect("supported extension");
    assert!(!facts.has_errors, "{path} should parse without errors");
    facts
        .calls
        .into_iter()
        .map(
            |Call {
                 line,
                 caller,
                 callee,
             }| (line, caller, callee),
        )
        .collect()
}

fn call(line: u32, caller: Option<&str>, callee: &str) -> (u32, Option<String>, String) {
    (line, caller.map(str::to_owned), callee.to_owned())
}

#[test]
fn languages_come_from_extensions() {
    assert_eq!(Language::from_path("src/lib.rs"), Some(Language::Rust));
    assert_eq!(Language::from_path("a/b.PY"), Some(Language::Python));
    assert_eq!(Language::from_path("x.d.ts"), Some(Language::TypeScript));
    assert_eq!(Language::from_path("App.tsx"), Some(Language::TypeScript));
    assert_eq!(Language::from_path("index.mjs"), Some(Language::JavaScript));
    assert_eq!(Language::from_path("Makefile"), None);
    assert_eq!(Language::from_path("notes.md"), None);
    assert_eq!(Language::from_path(".rs/README"), None);
    assert_eq!(Language::from_path("dir/.rs"), None);
    for lang in Language::ALL {
        assert_eq!(Language::parse(lang.as_str()), Some(lang));
        assert_eq!(lang.to_string(), lang.as_str());
        for ext in lang.extensions() {
            let want = lang.is_enabled().then_some(lang);
            assert_eq!(Language::from_path(&format!("a/b.{ext}")), want, "{ext}");
        }
    }
    assert_eq!(
        Language::ALL.map(Language::as_str),
        [
            "rust",
            "python",
            "typescript",
            "javascript",
            "go",
            "java",
            "c",
            "cpp",
            "csharp",
            "ruby"
        ]
    );
}

#[cfg(feature = "code-all")]
#[test]
fn new_languages_come_from_extensions() {
    assert_eq!(Language::from_path("main.go"), Some(Language::Go));
    assert_eq!(Language::from_path("A.java"), Some(Language::Java));
    assert_eq!(Language::from_path("stdio.h"), Some(Language::C));
    assert_eq!(Language::from_path("x.c"), Some(Language::C));
    assert_eq!(Language::from_path("x.CPP"), Some(Language::Cpp));
    assert_eq!(Language::from_path("x.hpp"), Some(Language::Cpp));
    assert_eq!(Language::from_path("x.h++"), Some(Language::Cpp));
    assert_eq!(Language::from_path("Program.cs"), Some(Language::CSharp));
    assert_eq!(Language::from_path("app.rb"), Some(Language::Ruby));
    assert_eq!(Language::enabled().count(), 10);
}

#[test]
fn file_facts_count_lines_bytes_and_hash() {
    let facts = extract("a.py", "x = 1\ny = 2").expect("python");
    assert_eq!((facts.size, facts.line_count), (11, 2));
    assert_eq!(
        facts.content_hash,
        blake3::hash(b"x = 1\ny = 2").to_hex().to_string()
    );
    assert_eq!(facts.content_hash.len(), 64);
    let lines = |text: &str| extract_as(Language::Python, "a.py", text).line_count;
    assert_eq!(lines(""), 0);
    assert_eq!(lines("a\n"), 1);
    assert_eq!(lines("a\n\nb"), 3);
    // Module-level assignments are not symbols (only `f = lambda` is).
    assert!(facts.symbols.is_empty());
    assert!(!facts.has_errors);
}

#[test]
fn kinds_round_trip_through_their_names() {
    for kind in SymbolKind::ALL {
        assert_eq!(SymbolKind::parse(kind.as_str()), Some(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    assert_eq!(SymbolKind::parse("lambda"), None);
}

const RUST: &str = r#"use std::fmt;

/// A point.
#[derive(Debug)]
pub struct Point {
    x: i64,
}

pub enum Shape { Dot(Point), Empty }

pub trait Area {
    fn area(&self) -> f64;
    fn double(&self) -> f64 { self.area() * 2.0 }
}

impl<T: Clone> fmt::Display for Wrapper<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

pub(crate) const MAX_POINTS: usize = 1_000;
static GREETING: &str = "hi";
type Pair = (Point, Point);

mod geometry {
    pub fn distance(
        a: &Point,
        b: &Point,
    ) -> f64 {
        fn square(v: f64) -> f64 { v * v }
        square(1.0)
    }
}

macro_rules! point { () => {}; }
union Bits { i: u32, f: f32 }
"#;

#[cfg(feature = "code-rust")]
#[test]
fn rust_items_methods_and_parents() {
    expect(
        "lib.rs",
        RUST,
        &[
            ("Point", SymbolKind::Struct, 5, 7, "pub struct Point", None),
            ("Shape", SymbolKind::Enum, 9, 9, "pub enum Shape", None),
            ("Area", SymbolKind::Trait, 11, 14, "pub trait Area", None),
            (
                "area",
                SymbolKind::Method,
                12,
                12,
                "fn area(&self) -> f64",
                Some("Area"),
            ),
            (
                "double",
                SymbolKind::Method,
                13,
                13,
                "fn double(&self) -> f64",
                Some("Area"),
            ),
            (
                "Wrapper",
                SymbolKind::Impl,
                16,
                20,
                "impl<T: Clone> fmt::Display for Wrapper<T>",
                None,
            ),
            (
                "fmt",
                SymbolKind::Method,
                17,
                19,
                "fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result",
                Some("Wrapper"),
            ),
            (
                "MAX_POINTS",
                SymbolKind::Const,
                22,
                22,
                "pub(crate) const MAX_POINTS: usize",
                None,
            ),
            (
                "GREETING",
                SymbolKind::Static,
                23,
                23,
                "static GREETING: &str",
                None,
            ),
            (
                "Pair",
                SymbolKind::Type,
                24,
                24,
                "type Pair = (Point, Point)",
                None,
            ),
            ("geometry", SymbolKind::Module, 26, 34, "mod geometry", None),
            (
                "distance",
                SymbolKind::Function,
                27,
                33,
                "pub fn distance( a: &Point, b: &Point, ) -> f64",
                Some("geometry"),
            ),
            (
                "square",
                SymbolKind::Function,
                31,
                31,
                "fn square(v: f64) -> f64",
                Some("distance"),
            ),
            (
                "point",
                SymbolKind::Macro,
                36,
                36,
                "macro_rules! point { () => {}; }",
                None,
            ),
            ("Bits", SymbolKind::Union, 37, 37, "union Bits", None),
        ],
    );
}

#[cfg(feature = "code-rust")]
#[test]
fn rust_associated_items_in_impls_and_traits() {
    let src = r#"trait Store {
    type Key;
    const LIMIT: usize;
}

impl Store for Memory {
    type Key = u64;
    const LIMIT: usize = 8;
}
"#;
    expect(
        "store.rs",
        src,
        &[
            ("Store", SymbolKind::Trait, 1, 4, "trait Store", None),
            ("Key", SymbolKind::Type, 2, 2, "type Key", Some("Store")),
            (
                "LIMIT",
                SymbolKind::Const,
                3,
                3,
                "const LIMIT: usize",
                Some("Store"),
            ),
            (
                "Memory",
                SymbolKind::Impl,
                6,
                9,
                "impl Store for Memory",
                None,
            ),
            (
                "Key",
                SymbolKind::Type,
                7,
                7,
                "type Key = u64",
                Some("Memory"),
            ),
            (
                "LIMIT",
                SymbolKind::Const,
                8,
                8,
                "const LIMIT: usize",
                Some("Memory"),
            ),
        ],
    );
}

#[cfg(feature = "code-rust")]
#[test]
fn rust_imports_and_calls() {
    let src = r#"use std::collections::HashMap;
use std::io::{self, Read as _, Write};
use serde;
use crate::a::*;
use super::b::c as d;
extern crate alloc;

fn main() {
    let m: HashMap<u8, u8> = HashMap::new();
    helper(m.len());
    let n = parse::<u8>("1");
    println!("{n:?}");
    m.get(&1).map(|v| v.clone());
}

impl Memory {
    fn helper() { Self::reset(); }
}
"#;
    assert_eq!(
        imports("main.rs", src),
        vec![
            imp(1, "std::collections", &["HashMap"]),
            imp(2, "std::io", &["self", "Read", "Write"]),
            imp(3, "serde", &[]),
            imp(4, "crate::a", &[]),
            imp(5, "super::b", &["c"]),
            imp(6, "alloc", &[]),
        ]
    );
    assert_eq!(
        calls("main.rs", src),
        vec![
            call(9, Some("main"), "new"),
            call(10, Some("main"), "helper"),
            call(10, Some("main"), "len"),
            call(11, Some("main"), "parse"),
            // Macro arguments are token trees, not expressions: calls inside are not seen.
            call(12, Some("main"), "println"),
            call(13, Some("main"), "clone"),
            call(13, Some("main"), "get"),
            call(13, Some("main"), "map"),
            call(17, Some("helper"), "reset"),
        ]
    );
}

#[cfg(feature = "code-python")]
#[test]
fn python_classes_methods_and_decorators() {
    let src = r#"import os

class Greeter(Base):
    """Says hello."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def loud(self):
        return self.name.upper()

    class Inner:
        pass


def main(argv=None) -> int:
    def helper(x):
        return x
    return 0

@cache
async def fetch(url):
    pass

square = lambda x: x * x
"#;
    expect(
        "app.py",
        src,
        &[
            (
                "Greeter",
                SymbolKind::Class,
                3,
                14,
                "class Greeter(Base)",
                None,
            ),
            (
                "__init__",
                SymbolKind::Method,
                6,
                7,
                "def __init__(self, name: str) -> None",
                Some("Greeter"),
            ),
            (
                "loud",
                SymbolKind::Method,
                10,
                11,
                "def loud(self)",
                Some("Greeter"),
            ),
            (
                "Inner",
                SymbolKind::Class,
                13,
                14,
                "class Inner",
                Some("Greeter"),
            ),
            (
                "main",
                SymbolKind::Function,
                17,
                20,
                "def main(argv=None) -> int",
                None,
            ),
            (
                "helper",
                SymbolKind::Function,
                18,
                19,
                "def helper(x)",
                Some("main"),
            ),
            (
                "fetch",
                SymbolKind::Function,
                23,
                24,
                "async def fetch(url)",
                None,
            ),
            (
                "square",
                SymbolKind::Function,
                26,
                26,
                "square = lambda x",
                None,
            ),
        ],
    );
}

#[cfg(feature = "code-python")]
#[test]
fn python_imports_and_calls() {
    let src = r#"from __future__ import annotations
import os.path, sys as system
from . import sibling
from ..pkg.mod import (a, b as c)
from json import *

def run():
    print(os.path.join("a", "b"))
    return Greeter("x").loud()
"#;
    assert_eq!(
        imports("run.py", src),
        vec![
            imp(1, "__future__", &["annotations"]),
            imp(2, "os.path", &[]),
            imp(2, "sys", &[]),
            imp(3, ".", &["sibling"]),
            imp(4, "..pkg.mod", &["a", "b"]),
            imp(5, "json", &[]),
        ]
    );
    assert_eq!(
        calls("run.py", src),
        vec![
            call(8, Some("run"), "join"),
            call(8, Some("run"), "print"),
            call(9, Some("run"), "Greeter"),
            call(9, Some("run"), "loud"),
        ]
    );
}

#[cfg(feature = "code-typescript")]
#[test]
fn typescript_declarations() {
    let src = r#"import { x } from "./x";

export interface Shape {
  area(): number;
}

export type Id = string | number;

export enum Color { Red, Green }

export abstract class Base implements Shape {
  abstract area(): number;
  describe(prefix: string): string {
    return prefix;
  }
  onClick = (e: Event): void => {};
}

export function makeId(n: number): Id {
  const local = () => 1;
  return n;
}

export const add = (a: number, b: number): number => a + b;
const LIMIT: number = 10;
let counter = 0;

namespace Geometry {
  export function origin() {}
}
"#;
    expect(
        "shapes.ts",
        src,
        &[
            (
                "Shape",
                SymbolKind::Interface,
                3,
                5,
                "export interface Shape",
                None,
            ),
            (
                "area",
                SymbolKind::Method,
                4,
                4,
                "area(): number",
                Some("Shape"),
            ),
            (
                "Id",
                SymbolKind::Type,
                7,
                7,
                "export type Id = string | number",
                None,
            ),
            ("Color", SymbolKind::Enum, 9, 9, "export enum Color", None),
            (
                "Base",
                SymbolKind::Class,
                11,
                17,
                "export abstract class Base implements Shape",
                None,
            ),
            (
                "area",
                SymbolKind::Method,
                12,
                12,
                "abstract area(): number",
                Some("Base"),
            ),
            (
                "describe",
                SymbolKind::Method,
                13,
                15,
                "describe(prefix: string): string",
                Some("Base"),
            ),
            (
                "onClick",
                SymbolKind::Method,
                16,
                16,
                "onClick = (e: Event): void",
                Some("Base"),
            ),
            (
                "makeId",
                SymbolKind::Function,
                19,
                22,
                "export function makeId(n: number): Id",
                None,
            ),
            // Functions bound to names inside functions are symbols too now (the grammar's
            // tags.scm and ctags both report them); the old walker skipped them.
            (
                "local",
                SymbolKind::Function,
                20,
                20,
                "const local = ()",
                Some("makeId"),
            ),
            (
                "add",
                SymbolKind::Function,
                24,
                24,
                "export const add = (a: number, b: number): number",
                None,
            ),
            (
                "LIMIT",
                SymbolKind::Const,
                25,
                25,
                "const LIMIT: number",
                None,
            ),
            (
                "Geometry",
                SymbolKind::Module,
                28,
                30,
                "namespace Geometry",
                None,
            ),
            (
                "origin",
                SymbolKind::Function,
                29,
                29,
                "export function origin()",
                Some("Geometry"),
            ),
        ],
    );
}

#[cfg(all(feature = "code-typescript", feature = "code-javascript"))]
#[test]
fn tsx_and_javascript() {
    let tsx = "export function App(): JSX.Element {\n  return <div>hi</div>;\n}\n";
    expect(
        "App.tsx",
        tsx,
        &[(
            "App",
            SymbolKind::Function,
            1,
            3,
            "export function App(): JSX.Element",
            None,
        )],
    );

    let js = r#"class Counter {
  constructor() { this.n = 0; }
  *ticks() {}
}

function* gen() {}
const handler = function (req, res) {};
module.exports = { Counter };
"#;
    expect(
        "counter.js",
        js,
        &[
            ("Counter", SymbolKind::Class, 1, 4, "class Counter", None),
            (
                "constructor",
                SymbolKind::Method,
                2,
                2,
                "constructor()",
                Some("Counter"),
            ),
            (
                "ticks",
                SymbolKind::Method,
                3,
                3,
                "*ticks()",
                Some("Counter"),
            ),
            ("gen", SymbolKind::Function, 6, 6, "function* gen()", None),
            (
                "handler",
                SymbolKind::Function,
                7,
                7,
                "const handler = function (req, res)",
                None,
            ),
        ],
    );
}

#[cfg(feature = "code-javascript")]
#[test]
fn javascript_names_bound_to_classes_and_functions() {
    let src = r#"const Foo = class extends Bar {
  run() {}
};
var Legacy = class {};
let make = function () {};
var old = () => 2;
exports.parse = function (text) {};
module.exports.format = (value) => String(value);
module.exports.Model = class Model {};
Widget.prototype.render = function () {};
const api = {
  get: function () {},
  put: async () => {},
};
"#;
    expect(
        "bound.js",
        src,
        &[
            (
                "Foo",
                SymbolKind::Class,
                1,
                3,
                "const Foo = class extends Bar",
                None,
            ),
            ("run", SymbolKind::Method, 2, 2, "run()", Some("Foo")),
            (
                "Legacy",
                SymbolKind::Class,
                4,
                4,
                "var Legacy = class",
                None,
            ),
            (
                "make",
                SymbolKind::Function,
                5,
                5,
                "let make = function ()",
                None,
            ),
            ("old", SymbolKind::Function, 6, 6, "var old = ()", None),
            (
                "parse",
                SymbolKind::Function,
                7,
                7,
                "exports.parse = function (text)",
                None,
            ),
            (
                "format",
                SymbolKind::Function,
                8,
                8,
                "module.exports.format = (value)",
                None,
            ),
            (
                "Model",
                SymbolKind::Class,
                9,
                9,
                "module.exports.Model = class Model",
                None,
            ),
            (
                "render",
                SymbolKind::Function,
                10,
                10,
                "Widget.prototype.render = function ()",
                None,
            ),
            ("api", SymbolKind::Object, 11, 14, "const api", None),
            (
                "get",
                SymbolKind::Function,
                12,
                12,
                "get: function ()",
                Some("api"),
            ),
            (
                "put",
                SymbolKind::Function,
                13,
                13,
                "put: async ()",
                Some("api"),
            ),
        ],
    );
}

#[cfg(feature = "code-javascript")]
#[test]
fn javascript_imports_and_calls() {
    let src = r#"import React, { useState, useMemo as memo } from "react";
import * as path from "node:path";
import "./polyfill.js";
export { helper } from "./helper.js";
const fs = require("fs");
const { join, resolve: res } = require('path');

function load(file) {
  const data = fs.readFileSync(join(file));
  return new Parser(data).run();
}
const lazy = () => import("./lazy.js");
"#;
    assert_eq!(
        imports("load.js", src),
        vec![
            imp(1, "react", &["React", "useState", "useMemo"]),
            imp(2, "node:path", &[]),
            imp(3, "./polyfill.js", &[]),
            imp(4, "./helper.js", &["helper"]),
            imp(5, "fs", &[]),
            imp(6, "path", &["join", "resolve"]),
            imp(12, "./lazy.js", &[]),
        ]
    );
    assert_eq!(
        calls("load.js", src),
        vec![
            call(9, Some("load"), "join"),
            call(9, Some("load"), "readFileSync"),
            call(10, Some("load"), "Parser"),
            call(10, Some("load"), "run"),
        ]
    );
}

#[cfg(feature = "code-go")]
#[test]
fn go_declarations_imports_and_calls() {
    let src = r#"package shapes

import (
	"fmt"
	str "strings"
)

const Limit = 10

type Point struct {
	X, Y int
}

type Shape interface {
	Area() float64
}

type ID = string

func (p Point) Area() float64 {
	return 0
}
func (p *Pair[T]) Scale(f T) {}

func Describe(s Shape) string {
	return fmt.Sprintf("%v", str.ToUpper("x"))
}
"#;
    expect(
        "shapes.go",
        src,
        &[
            ("shapes", SymbolKind::Module, 1, 1, "package shapes", None),
            ("Limit", SymbolKind::Const, 8, 8, "const Limit", None),
            (
                "Point",
                SymbolKind::Struct,
                10,
                12,
                "type Point struct",
                None,
            ),
            (
                "Shape",
                SymbolKind::Interface,
                14,
                16,
                "type Shape interface",
                None,
            ),
            (
                "Area",
                SymbolKind::Method,
                15,
                15,
                "Area() float64",
                Some("Shape"),
            ),
            ("ID", SymbolKind::Type, 18, 18, "type ID = string", None),
            // A method's parent is its receiver's type.
            (
                "Area",
                SymbolKind::Method,
                20,
                22,
                "func (p Point) Area() float64",
                Some("Point"),
            ),
            (
                "Scale",
                SymbolKind::Method,
                23,
                23,
                "func (p *Pair[T]) Scale(f T)",
                Some("Pair"),
            ),
            (
                "Describe",
                SymbolKind::Function,
                25,
                27,
                "func Describe(s Shape) string",
                None,
            ),
        ],
    );
    assert_eq!(
        imports("shapes.go", src),
        vec![imp(4, "fmt", &[]), imp(5, "strings", &[])]
    );
    assert_eq!(
        calls("shapes.go", src),
        vec![
            call(26, Some("Describe"), "Sprintf"),
            call(26, Some("Describe"), "ToUpper"),
        ]
    );
}

#[cfg(feature = "code-rust")]
#[test]
fn broken_code_still_yields_what_parses() {
    let facts = extract("bad.rs", "fn ok() {}\nfn broken( {\n").expect("rust");
    assert!(facts.has_errors);
    assert_eq!(facts.symbols.first().map(|s| s.name.as_str()), Some("ok"));
}

#[cfg(feature = "code-rust")]
#[test]
fn a_header_ending_in_a_million_equals_signs_is_trimmed() {
    // 2 MB of `= ` between a declaration and its body: trimming used to copy the header
    // once per `=` removed (minutes); now one pass.
    let src = format!("fn f() {}{{}}\n", "= ".repeat(1_000_000));
    assert!(src.len() > 2_000_000);
    let facts = extract("big.rs", &src).expect("rust");
    let f = facts
        .symbols
        .iter()
        .find(|s| s.name == "f")
        .expect("f is found");
    assert_eq!(f.signature, "fn f()");
}

#[cfg(feature = "code-rust")]
#[test]
fn long_signatures_are_cut() {
    let params: Vec<String> = (0..100).map(|i| format!("a{i}: u8")).collect();
    let src = format!("fn wide({}) {{}}\n", params.join(", "));
    let facts = extract("w.rs", &src).expect("rust");
    let sig = &facts.symbols[0].signature;
    assert_eq!(sig.chars().count(), MAX_SIGNATURE_CHARS);
    assert!(sig.ends_with('…'));
}

#[cfg(feature = "code-rust")]
#[test]
fn the_same_file_extracts_the_same_facts_on_every_thread() {
    let first = extract("lib.rs", RUST).expect("rust");
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| extract("lib.rs", RUST).expect("rust")))
        .collect();
    for handle in handles {
        assert_eq!(handle.join().expect("thread"), first);
    }
    // `extract_as` ignores the extension except for picking a grammar.
    assert_eq!(extract_as(Language::Rust, "lib.txt", RUST), first);
}

#[cfg(all(feature = "code-python", feature = "code-javascript"))]
#[test]
fn non_ascii_names_and_text_around_definitions() {
    expect(
        "grüße.py",
        "# ü\ndef grüße(wer='ö'):\n    return wer\n",
        &[(
            "grüße",
            SymbolKind::Function,
            2,
            3,
            "def grüße(wer='ö')",
            None,
        )],
    );
    expect(
        "café.js",
        "/* é */ const café = () => 'é';\né; export function ß() {}\n",
        &[
            ("café", SymbolKind::Function, 1, 1, "const café = ()", None),
            ("ß", SymbolKind::Function, 2, 2, "export function ß()", None),
        ],
    );
}
