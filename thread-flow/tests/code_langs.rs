//! `thread_flow::code::extract` for Java, C, C++, C# and Ruby on small fixtures written for
//! these tests: the exact symbols (name, kind, lines, signature, parent), imports and calls,
//! and every definition Universal Ctags (`ctags`, the oracle) reports in them.
#![cfg(all(
    feature = "code-java",
    feature = "code-c",
    feature = "code-cpp",
    feature = "code-csharp",
    feature = "code-ruby"
))]

use std::process::Command;

use SymbolKind::{Class, Enum, Function, Interface, Macro, Method, Module, Struct, Type, Union};
use thread_flow::code::{FileFacts, Language, SymbolKind, extract};

const JAVA: (&str, &str) = ("src/org/example/shapes/Shapes.java", JAVA_SRC);
const C: (&str, &str) = ("src/ring.c", C_SRC);
const CPP: (&str, &str) = ("src/cache.cpp", CPP_SRC);
const CSHARP: (&str, &str) = ("src/Inventory.cs", CSHARP_SRC);
const RUBY: (&str, &str) = ("lib/ledger.rb", RUBY_SRC);

const JAVA_SRC: &str = r#"package org.example.shapes;

import java.util.ArrayList;
import java.util.List;
import static java.lang.Math.max;

/** A shape with an area. */
interface Shape {
    double area();
}

@interface Audit {
    String value() default "";
}

enum Color { RED, GREEN }

record Point(int x, int y) {
    Point {
        check(x);
    }
}

public class Canvas implements Shape {
    private final List<Shape> shapes = new ArrayList<>();

    public Canvas() {
        this.shapes.add(new Circle(1.0));
    }

    public double area() {
        double total = 0;
        for (Shape s : shapes) {
            total = max(total, s.area());
        }
        return total;
    }
}
"#;

const C_SRC: &str = r#"#include <stdlib.h>
#include "ring.h"

#define RING_MIN 4
#define RING_WRAP(i, n) ((i) % (n))

typedef int (*ring_cmp)(const void *a, const void *b);

struct ring {
    int *items;
    size_t len;
};

union slot { int i; float f; };

enum ring_state { RING_EMPTY, RING_FULL };

typedef struct ring ring_t;

int ring_push(struct ring *r, int v);

static int *ring_grow(struct ring *r) {
    r->items = realloc(r->items, r->len * 2);
    return r->items;
}

int ring_push(struct ring *r, int v) {
    if (r->len < RING_MIN) {
        ring_grow(r);
    }
    r->items[RING_WRAP(r->len, RING_MIN)] = v;
    return 0;
}
"#;

const CPP_SRC: &str = r#"#include <map>
#include "cache.hpp"

namespace store {
namespace detail {
using Key = std::string;
}

template <typename V>
class Cache {
 public:
  Cache() = default;
  ~Cache() {}
  bool get(const detail::Key& k, V* out) const;
  Cache& operator=(const Cache& other) {
    entries_ = other.entries_;
    return *this;
  }

 private:
  std::map<detail::Key, V> entries_;
};

struct Stats {
  int hits;
};

template <typename V>
bool Cache<V>::get(const detail::Key& k, V* out) const {
  auto it = entries_.find(k);
  if (it == entries_.end()) return false;
  *out = it->second;
  return true;
}

class STORE_EXPORT Registry : public Base {
 public:
  void add();
};

void Registry::add() {
  auto* s = new Stats();
  detail::log<int>(s->hits);
  delete s;
}
}  // namespace store
"#;

const CSHARP_SRC: &str = r#"using System;
using System.Collections.Generic;
using Counts = System.Collections.Generic.Dictionary<string, int>;

namespace Shop.Inventory
{
    public delegate void Changed(string item);

    public interface IStore
    {
        int Count(string item);
    }

    public enum Unit { Piece, Kilogram }

    public struct Amount
    {
        public int Value;
    }

    public record Item(string Name, Unit Unit);

    public class Store : IStore
    {
        private readonly Counts counts = new Counts();

        public Store()
        {
            Reset();
        }

        public int Total { get; private set; }

        public int Count(string item)
        {
            return counts.TryGetValue(item, out var n) ? n : 0;
        }

        private void Reset()
        {
            int Twice(int x) => x * 2;
            counts?.Clear();
            Console.WriteLine(Twice(1));
        }
    }
}
"#;

const RUBY_SRC: &str = r#"require "json"
require_relative "ledger/entry"

module Accounts
  class Ledger < Base
    attr_reader :entries
    attr_accessor :owner

    def initialize(owner)
      @owner = owner
      @entries = []
    end

    def self.load(path)
      data = JSON.parse(File.read(path))
      new(data.fetch("owner"))
    end

    def add(entry)
      entries.push(entry)
      log "added"
    end

    alias_method :append, :add
    alias push add

    class << self
      def empty
        new(nil)
      end
    end
  end
end
"#;

/// (name, kind, start line, end line, signature, parent)
type Sym = (
    &'static str,
    SymbolKind,
    u32,
    u32,
    &'static str,
    Option<&'static str>,
);

fn facts((path, src): (&str, &str)) -> FileFacts {
    let facts = extract(path, src).expect("supported extension");
    assert!(!facts.has_errors, "{path} should parse without errors");
    facts
}

fn assert_symbols(facts: &FileFacts, want: &[Sym]) {
    let got_owned: Vec<(String, SymbolKind, u32, u32, String, Option<String>)> = facts
        .symbols
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.kind,
                s.start_line,
                s.end_line,
                s.signature.clone(),
                s.parent.clone(),
            )
        })
        .collect();
    let want_owned: Vec<(String, SymbolKind, u32, u32, String, Option<String>)> = want
        .iter()
        .map(|&(n, k, s, e, sig, p)| (n.into(), k, s, e, sig.into(), p.map(Into::into)))
        .collect();
    assert_eq!(got_owned, want_owned, "symbols of a {} file", facts.lang);
}

fn imports(facts: &FileFacts) -> Vec<(u32, &str, Vec<&str>)> {
    facts
        .imports
        .iter()
        .map(|i| {
            (
                i.line,
                i.module.as_str(),
                i.names.iter().map(String::as_str).collect(),
            )
        })
        .collect()
}

fn calls(facts: &FileFacts) -> Vec<(u32, Option<&str>, &str)> {
    facts
        .calls
        .iter()
        .map(|c| (c.line, c.caller.as_deref(), c.callee.as_str()))
        .collect()
}

#[test]
fn java_definitions_imports_and_calls() {
    let facts = facts(JAVA);
    assert_eq!(facts.lang, Language::Java);
    assert_symbols(
        &facts,
        &[
            (
                "org.example.shapes",
                Module,
                1,
                1,
                "package org.example.shapes",
                None,
            ),
            ("Shape", Interface, 8, 10, "interface Shape", None),
            ("area", Method, 9, 9, "double area()", Some("Shape")),
            ("Audit", Interface, 12, 14, "@interface Audit", None),
            (
                "value",
                Method,
                13,
                13,
                "String value() default \"\"",
                Some("Audit"),
            ),
            ("Color", Enum, 16, 16, "enum Color", None),
            ("Point", Class, 18, 22, "record Point(int x, int y)", None),
            ("Point", Method, 19, 21, "Point", Some("Point")),
            (
                "Canvas",
                Class,
                24,
                38,
                "public class Canvas implements Shape",
                None,
            ),
            ("Canvas", Method, 27, 29, "public Canvas()", Some("Canvas")),
            (
                "area",
                Method,
                31,
                37,
                "public double area()",
                Some("Canvas"),
            ),
        ],
    );
    assert_eq!(
        imports(&facts),
        [
            (3, "java.util.ArrayList", vec![]),
            (4, "java.util.List", vec![]),
            (5, "java.lang.Math.max", vec![]),
        ]
    );
    assert_eq!(
        calls(&facts),
        [
            (20, Some("Point"), "check"),
            // `new ArrayList<>()`, `new Circle(...)` call constructors
            (25, Some("Canvas"), "ArrayList"),
            (28, Some("Canvas"), "Circle"),
            (28, Some("Canvas"), "add"),
            (34, Some("area"), "area"),
            (34, Some("area"), "max"),
        ]
    );
}

#[test]
fn c_definitions_imports_and_calls() {
    let facts = facts(C);
    assert_eq!(facts.lang, Language::C);
    // the prototype `int ring_push(...);` on line 20 is not a definition
    assert_symbols(
        &facts,
        &[
            ("RING_MIN", Macro, 4, 4, "#define RING_MIN 4", None),
            (
                "RING_WRAP",
                Macro,
                5,
                5,
                "#define RING_WRAP(i, n) ((i) % (n))",
                None,
            ),
            (
                "ring_cmp",
                Type,
                7,
                7,
                "typedef int (*ring_cmp)(const void *a, const void *b)",
                None,
            ),
            ("ring", Struct, 9, 12, "struct ring", None),
            ("slot", Union, 14, 14, "union slot", None),
            ("ring_state", Enum, 16, 16, "enum ring_state", None),
            ("ring_t", Type, 18, 18, "typedef struct ring ring_t", None),
            (
                "ring_grow",
                Function,
                22,
                25,
                "static int *ring_grow(struct ring *r)",
                None,
            ),
            (
                "ring_push",
                Function,
                27,
                33,
                "int ring_push(struct ring *r, int v)",
                None,
            ),
        ],
    );
    assert_eq!(
        imports(&facts),
        [(1, "stdlib.h", vec![]), (2, "ring.h", vec![])]
    );
    assert_eq!(
        calls(&facts),
        [
            (23, Some("ring_grow"), "realloc"),
            (29, Some("ring_push"), "ring_grow"),
            (31, Some("ring_push"), "RING_WRAP"),
        ]
    );
}

#[test]
fn cpp_definitions_imports_and_calls() {
    let facts = facts(CPP);
    assert_eq!(facts.lang, Language::Cpp);
    assert_symbols(
        &facts,
        &[
            ("store", Module, 4, 46, "namespace store", None),
            ("detail", Module, 5, 7, "namespace detail", Some("store")),
            ("Key", Type, 6, 6, "using Key = std::string", Some("detail")),
            ("Cache", Class, 10, 22, "class Cache", Some("store")),
            ("Cache", Method, 12, 12, "Cache() = default", Some("Cache")),
            ("~Cache", Method, 13, 13, "~Cache()", Some("Cache")),
            // the declaration `bool get(...) const;` on line 14 is not a definition
            (
                "operator=",
                Method,
                15,
                18,
                "Cache& operator=(const Cache& other)",
                Some("Cache"),
            ),
            ("Stats", Struct, 24, 26, "struct Stats", Some("store")),
            (
                "get",
                Method,
                29,
                34,
                "bool Cache<V>::get(const detail::Key& k, V* out) const",
                Some("store"),
            ),
            // the export macro is blanked for the parser, kept in the signature
            (
                "Registry",
                Class,
                36,
                39,
                "class STORE_EXPORT Registry : public Base",
                Some("store"),
            ),
            ("add", Method, 41, 45, "void Registry::add()", Some("store")),
        ],
    );
    assert_eq!(
        imports(&facts),
        [(1, "map", vec![]), (2, "cache.hpp", vec![])]
    );
    assert_eq!(
        calls(&facts),
        [
            (30, Some("get"), "find"),
            (31, Some("get"), "end"),
            (42, Some("add"), "Stats"),
            (43, Some("add"), "log"),
        ]
    );
}

#[test]
fn csharp_definitions_imports_and_calls() {
    let facts = facts(CSHARP);
    assert_eq!(facts.lang, Language::CSharp);
    // the property `Total` is a member, not indexed
    assert_symbols(
        &facts,
        &[
            (
                "Counts",
                Type,
                3,
                3,
                "using Counts = System.Collections.Generic.Dictionary<string, int>",
                None,
            ),
            (
                "Shop.Inventory",
                Module,
                5,
                46,
                "namespace Shop.Inventory",
                None,
            ),
            (
                "Changed",
                Type,
                7,
                7,
                "public delegate void Changed(string item)",
                Some("Shop.Inventory"),
            ),
            (
                "IStore",
                Interface,
                9,
                12,
                "public interface IStore",
                Some("Shop.Inventory"),
            ),
            (
                "Count",
                Method,
                11,
                11,
                "int Count(string item)",
                Some("IStore"),
            ),
            (
                "Unit",
                Enum,
                14,
                14,
                "public enum Unit",
                Some("Shop.Inventory"),
            ),
            (
                "Amount",
                Struct,
                16,
                19,
                "public struct Amount",
                Some("Shop.Inventory"),
            ),
            (
                "Item",
                Class,
                21,
                21,
                "public record Item(string Name, Unit Unit)",
                Some("Shop.Inventory"),
            ),
            (
                "Store",
                Class,
                23,
                45,
                "public class Store : IStore",
                Some("Shop.Inventory"),
            ),
            ("Store", Method, 27, 30, "public Store()", Some("Store")),
            (
                "Count",
                Method,
                34,
                37,
                "public int Count(string item)",
                Some("Store"),
            ),
            (
                "Reset",
                Method,
                39,
                44,
                "private void Reset()",
                Some("Store"),
            ),
            (
                "Twice",
                Function,
                41,
                41,
                "int Twice(int x) => x * 2",
                Some("Reset"),
            ),
        ],
    );
    assert_eq!(
        imports(&facts),
        [
            (1, "System", vec![]),
            (2, "System.Collections.Generic", vec![]),
            // the namespace a generic alias depends on
            (3, "System.Collections.Generic", vec![]),
        ]
    );
    assert_eq!(
        calls(&facts),
        [
            (25, Some("Store"), "Counts"),
            (29, Some("Store"), "Reset"),
            (36, Some("Count"), "TryGetValue"),
            (42, Some("Reset"), "Clear"),
            (43, Some("Reset"), "Twice"),
            (43, Some("Reset"), "WriteLine"),
        ]
    );
}

#[test]
fn ruby_definitions_imports_and_calls() {
    let facts = facts(RUBY);
    assert_eq!(facts.lang, Language::Ruby);
    assert_symbols(
        &facts,
        &[
            ("Accounts", Module, 4, 33, "module Accounts", None),
            (
                "Ledger",
                Class,
                5,
                32,
                "class Ledger < Base",
                Some("Accounts"),
            ),
            (
                "entries",
                Method,
                6,
                6,
                "attr_reader :entries",
                Some("Ledger"),
            ),
            // an accessor defines the reader and the writer
            (
                "owner",
                Method,
                7,
                7,
                "attr_accessor :owner",
                Some("Ledger"),
            ),
            (
                "owner=",
                Method,
                7,
                7,
                "attr_accessor :owner",
                Some("Ledger"),
            ),
            (
                "initialize",
                Method,
                9,
                12,
                "def initialize(owner)",
                Some("Ledger"),
            ),
            (
                "load",
                Method,
                14,
                17,
                "def self.load(path)",
                Some("Ledger"),
            ),
            ("add", Method, 19, 22, "def add(entry)", Some("Ledger")),
            (
                "append",
                Method,
                24,
                24,
                "alias_method :append, :add",
                Some("Ledger"),
            ),
            ("push", Method, 25, 25, "alias push add", Some("Ledger")),
            ("empty", Method, 28, 30, "def empty", Some("Ledger")),
        ],
    );
    assert_eq!(
        imports(&facts),
        [(1, "json", vec![]), (2, "ledger/entry", vec![])]
    );
    // a bare `entries` (no receiver, no arguments) reads like a local variable: not a call
    assert_eq!(
        calls(&facts),
        [
            (1, None, "require"),
            (2, None, "require_relative"),
            (6, Some("Ledger"), "attr_reader"),
            (7, Some("Ledger"), "attr_accessor"),
            (15, Some("load"), "parse"),
            (15, Some("load"), "read"),
            (16, Some("load"), "fetch"),
            (16, Some("load"), "new"),
            (20, Some("add"), "push"),
            (21, Some("add"), "log"),
            (24, Some("Ledger"), "alias_method"),
            (29, Some("empty"), "new"),
        ]
    );
}

#[test]
fn ruby_writers_are_named_with_an_equals_sign() {
    let src = "class Point\n  attr_writer :x, :y\n  private attr_reader :z\nend\n";
    let facts = facts(("point.rb", src));
    let names: Vec<(&str, u32)> = facts
        .symbols
        .iter()
        .map(|s| (s.name.as_str(), s.start_line))
        .collect();
    assert_eq!(names, [("Point", 1), ("x=", 2), ("y=", 2), ("z", 3)]);
}

#[test]
fn a_header_is_cpp_when_it_looks_like_cpp() {
    let cpp = "#pragma once\n#include <vector>\nnamespace geo {\nclass Shape {\n public:\n  virtual ~Shape();\n};\n}\n";
    let header = facts(("include/geo/shape.h", cpp));
    assert_eq!(header.lang, Language::Cpp);
    let names: Vec<(&str, SymbolKind)> = header
        .symbols
        .iter()
        .map(|s| (s.name.as_str(), s.kind))
        .collect();
    assert_eq!(names, [("geo", Module), ("Shape", Class)]);

    // C code may use C++ keywords as names; a header without C++ stays C
    let c = "#include <stddef.h>\nstruct list { struct list *new; };\nint list_len(const struct list *l);\n";
    let header = facts(("include/list.h", c));
    assert_eq!(header.lang, Language::C);
    let names: Vec<(&str, SymbolKind)> = header
        .symbols
        .iter()
        .map(|s| (s.name.as_str(), s.kind))
        .collect();
    assert_eq!(names, [("list", Struct)]);
}

#[test]
fn export_and_namespace_macros_do_not_hide_definitions() {
    // BoringSSL/V8-style macros: a namespace opened by a macro line, export macros between
    // `class` and the name, a macro before `static`
    let src = "#include \"x.h\"\n\nBSSL_NAMESPACE_BEGIN\n\nclass V8_EXPORT V8_NODISCARD Scope {\n public:\n  V8_INLINE static int Depth() { return 1; }\n};\n\nint Level() { return Scope::Depth(); }\n\nBSSL_NAMESPACE_END\n";
    let facts = facts(("src/scope.cc", src));
    let got: Vec<(&str, SymbolKind, u32, u32)> = facts
        .symbols
        .iter()
        .map(|s| (s.name.as_str(), s.kind, s.start_line, s.end_line))
        .collect();
    assert_eq!(
        got,
        [
            ("Scope", Class, 5, 8),
            ("Depth", Method, 7, 7),
            ("Level", Function, 10, 10),
        ]
    );
    assert_eq!(calls(&facts), [(10, Some("Level"), "Depth")]);
}

/// Universal Ctags' kinds for the definitions the issue counts (functions, methods,
/// classes/structs, enums, interfaces, modules/namespaces, type aliases, macros), per
/// language as ctags names it.
fn counted(language: &str, kind: &str) -> bool {
    match language {
        "Java" => matches!(
            kind,
            "class" | "interface" | "enum" | "method" | "annotation" | "package"
        ),
        "C" | "C++" => matches!(
            kind,
            "function" | "struct" | "union" | "enum" | "typedef" | "macro" | "class" | "namespace"
        ),
        "C#" => matches!(
            kind,
            "class" | "struct" | "interface" | "enum" | "method" | "namespace" | "typedef"
        ),
        "Ruby" => matches!(
            kind,
            "class" | "module" | "method" | "singletonMethod" | "accessor" | "alias"
        ),
        _ => false,
    }
}

#[test]
fn every_definition_ctags_reports_in_the_fixtures_is_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixtures = [JAVA, C, CPP, CSHARP, RUBY];
    let mut paths = Vec::new();
    for (path, src) in fixtures {
        let name = path.rsplit('/').next().expect("file name");
        let file = dir.path().join(name);
        std::fs::write(&file, src).expect("write fixture");
        paths.push(file);
    }
    let output = Command::new("ctags")
        .args([
            "-x",
            "--_xformat=%{input}\t%{language}\t%K\t%N\t%n",
            "--extras=-{anonymous}",
            "-f",
            "-",
        ])
        .args(&paths)
        .output()
        .expect("Universal Ctags (`ctags`) must be installed: it is the oracle of this test");
    assert!(output.status.success(), "ctags failed: {output:?}");
    let listing = String::from_utf8(output.stdout).expect("ctags prints UTF-8");
    let extracted: Vec<FileFacts> = fixtures.into_iter().map(facts).collect();
    let mut checked = 0;
    for line in listing.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [input, language, kind, name, at] = fields[..] else {
            panic!("unexpected ctags line {line:?}");
        };
        if !counted(language, kind) {
            continue;
        }
        let at: u32 = at.parse().expect("line number");
        let index = paths
            .iter()
            .position(|p| p.to_str() == Some(input))
            .unwrap_or_else(|| panic!("ctags names an unknown file {input}"));
        // ctags spells operators `operator =`, the source (and we) `operator=`
        let spaceless = |text: &str| text.split_whitespace().collect::<String>();
        let found = extracted[index].symbols.iter().any(|s| {
            spaceless(&s.name) == spaceless(name) && s.start_line <= at && at <= s.end_line
        });
        assert!(
            found,
            "ctags' {language} {kind} `{name}` at {}:{at} is missing",
            fixtures[index].0
        );
        checked += 1;
    }
    // the fixtures hold over 40 such definitions: ctags really ran and listed them
    assert!(checked >= 40, "only {checked} ctags definitions checked");
}
