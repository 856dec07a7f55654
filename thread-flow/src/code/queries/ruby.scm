; Ruby: this query alone. The grammar's tags.scm tags every bare identifier and constant as a
; call unless a locals query marks it local; tree-sitter-tags runs no locals query here, so
; every local variable read and every constant would become a "call". The definitions below
; are those of tags.scm plus accessors and `alias_method`. See src/code/lang/mod.rs for what
; each capture means.

; ---- methods: `def m`, `def self.m`, `def obj.m`, `alias new old`
(method name: (_) @name) @definition.method
(singleton_method name: (_) @name) @definition.method
(alias name: (_) @name) @definition.method
; `attr_reader :a, :b`, `attr_writer :a`, `attr_accessor :a`, `alias_method :new, :old`:
; the name is the symbol (lang/ruby.rs drops its `:` and adds the `a=` writers)
(call
  method: (identifier) @local.reference
  arguments: (argument_list (simple_symbol) @name)
  (#match? @local.reference "^attr_(reader|writer|accessor)$")) @definition.method
(call
  method: (identifier) @local.reference
  arguments: (argument_list . (simple_symbol) @name)
  (#eq? @local.reference "alias_method")) @definition.method

; ---- classes and modules: `class A`, `class A::B`, `class << self`, `module M`
(class
  name: [
    (constant) @name
    (scope_resolution name: (_) @name)
  ]) @definition.class
(singleton_class
  value: [
    (constant) @name
    (scope_resolution name: (_) @name)
  ]) @definition.class
(module
  name: [
    (constant) @name
    (scope_resolution name: (_) @name)
  ]) @definition.module

; ---- imports: require "a", require_relative "b", load "c.rb"
(call
  method: (identifier) @local.reference
  arguments: (argument_list . (string (string_content) @name))
  (#match? @local.reference "^(require|require_relative|load)$")) @reference.import

; ---- calls: `f(x)`, `f x`, `a.f`, `A.new`, `Integer("1")`. A bare `f` without receiver or
; arguments cannot be told from a local variable without a locals query: left out.
(call method: [(identifier) (constant)] @name) @reference.call
