; TypeScript only (see src/code/lang/mod.rs for captures). Earlier patterns win over later
; ones (and over ecmascript.scm and the grammars' tags.scm) for the same name.

(interface_declaration name: (type_identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(type_alias_declaration name: (type_identifier) @name) @definition.type
(abstract_class_declaration name: (type_identifier) @name) @definition.class
[
  (internal_module name: [(identifier) (nested_identifier)] @name)
  (internal_module name: (string (string_fragment) @name))
  (module name: [(identifier) (nested_identifier)] @name)
  (module name: (string (string_fragment) @name))
] @definition.module
(function_signature name: (identifier) @name) @definition.function
[
  (method_signature name: [(property_identifier) (private_property_identifier)] @name)
  (abstract_method_signature name: [(property_identifier) (private_property_identifier)] @name)
] @definition.method
; class fields holding a function are methods: `onClick = (e: Event) => {}`
(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.method

; ---- where headers end
(abstract_class_declaration body: (class_body "{" @name @reference.body))
(interface_declaration body: (interface_body "{" @name @reference.body))
(enum_declaration body: (enum_body "{" @name @reference.body))
(internal_module body: (statement_block "{" @name @reference.body))
(module body: (statement_block "{" @name @reference.body))

; ---- imports: import x = require("m");
(import_statement
  (import_require_clause source: (string (string_fragment) @name))) @reference.import
