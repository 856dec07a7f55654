; Rust definitions, imports, calls and header ends (see src/code/lang/mod.rs for captures).
; Earlier patterns win over later ones (and over the grammar's tags.scm) for the same name.

; ---- methods: functions in impl and trait bodies (a `mod` body is a declaration_list too)
(impl_item
  body: (declaration_list
    (function_item name: (identifier) @name) @definition.method))
(trait_item
  body: (declaration_list
    [(function_item name: (identifier) @name)
     (function_signature_item name: (identifier) @name)] @definition.method))

; ---- other definitions
(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name) @definition.struct
(enum_item name: (type_identifier) @name) @definition.enum
(union_item name: (type_identifier) @name) @definition.union
(type_item name: (type_identifier) @name) @definition.type
(associated_type name: (type_identifier) @name) @definition.type
(trait_item name: (type_identifier) @name) @definition.trait
(const_item name: (identifier) @name) @definition.const
(static_item name: (identifier) @name) @definition.static
(mod_item name: (identifier) @name) @definition.module
(macro_definition name: (identifier) @name) @definition.macro

; impl blocks, named after the self type without generics
(impl_item
  type: [
    (type_identifier) @name
    (scoped_type_identifier) @name
    (generic_type type: (type_identifier) @name)
    (generic_type type: (scoped_type_identifier) @name)
    (reference_type) @name
    (pointer_type) @name
    (primitive_type) @name
    (array_type) @name
    (tuple_type) @name
    (dynamic_type) @name
    (function_type) @name
  ]) @definition.impl

; ---- where headers end
(function_item body: (block "{" @name @reference.body))
(struct_item body: (field_declaration_list "{" @name @reference.body))
(struct_item body: (ordered_field_declaration_list "(" @name @reference.body))
(union_item body: (field_declaration_list "{" @name @reference.body))
(enum_item body: (enum_variant_list "{" @name @reference.body))
(trait_item body: (declaration_list "{" @name @reference.body))
(impl_item body: (declaration_list "{" @name @reference.body))
(mod_item body: (declaration_list "{" @name @reference.body))
(const_item "=" @name @reference.body)
(static_item "=" @name @reference.body)

; ---- calls the grammar's tags.scm leaves out: paths and turbofish
(call_expression
  function: (scoped_identifier name: (identifier) @name)) @reference.call
(call_expression
  function: (generic_function
    function: [
      (identifier) @name
      (scoped_identifier name: (identifier) @name)
      (field_expression field: (field_identifier) @name)
    ])) @reference.call
(macro_invocation
  macro: (scoped_identifier name: (identifier) @name)) @reference.call

; ---- imports: module = the path before the last segment, names = the last segments
; use a::b::C;   use a::b::C as D;
(use_declaration
  argument: [
    (scoped_identifier path: (_) @name)
    (use_as_clause path: (scoped_identifier path: (_) @name))
  ]) @reference.import
(use_declaration
  argument: [
    (scoped_identifier name: (_) @name)
    (use_as_clause path: (scoped_identifier name: (_) @name))
  ]) @reference.imported
; use a::{b, c::d, e as f, self};   use a::*;
(use_declaration argument: (scoped_use_list path: (_) @name)) @reference.import
(use_declaration
  argument: (scoped_use_list
    list: (use_list
      [
        (identifier) @name
        (self) @name
        (scoped_identifier) @name
        (scoped_use_list) @name
        (use_as_clause path: (_) @name)
      ]))) @reference.imported
(use_declaration argument: (use_wildcard (_) @name)) @reference.import
; use a;   use a as b;   use {a, b::c};
(use_declaration
  argument: [
    (identifier) @name
    (crate) @name
    (use_as_clause path: (identifier) @name)
  ]) @reference.import
(use_declaration
  argument: (use_list
    [
      (identifier) @name
      (scoped_identifier) @name
      (scoped_use_list) @name
    ])) @reference.import
(extern_crate_declaration name: (identifier) @name) @reference.import
