; JavaScript and TypeScript: definitions, imports, calls and header ends shared by both
; grammars (see src/code/lang/mod.rs for captures). Earlier patterns win over later ones
; (and over the grammar's tags.scm) for the same name.

; ---- methods, constructors included (the grammar's tags.scm leaves constructors out)
(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method
(method_definition name: (string (string_fragment) @name)) @definition.method

; ---- classes, also class expressions bound to a name
(class_declaration name: (_) @name) @definition.class
(class name: (_) @name) @definition.class
(variable_declarator name: (identifier) @name value: (class)) @definition.class
(assignment_expression
  left: [
    (identifier) @name
    (member_expression property: (property_identifier) @name)
  ]
  right: (class)) @definition.class
(pair
  key: [(property_identifier) @name (string (string_fragment) @name)]
  value: (class)) @definition.class

; ---- functions, also function values bound to a name (var/let/const, assignments to
; variables, properties, `module.exports.f`, `exports.f`, object literal keys)
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function
(assignment_expression
  left: [
    (identifier) @name
    (member_expression property: (property_identifier) @name)
  ]
  right: [(arrow_function) (function_expression) (generator_function)]) @definition.function
(pair
  key: [(property_identifier) @name (string (string_fragment) @name)]
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function
(function_expression name: (identifier) @name) @definition.function
(generator_function name: (identifier) @name) @definition.function

; ---- non-empty object literals bound to names (namespace objects; ctags calls them classes)
(variable_declarator name: (identifier) @name value: (object (_))) @definition.object
(assignment_expression
  left: [
    (identifier) @name
    (member_expression property: (property_identifier) @name)
  ]
  right: (object (_))
  (#not-eq? @name "exports")) @definition.object
(pair
  key: [(property_identifier) @name (string (string_fragment) @name)]
  value: (object (_))) @definition.object

; ---- top-level constants (other than the functions and classes above)
(program
  (lexical_declaration "const" (variable_declarator name: (identifier) @name) @definition.const))
(program
  (export_statement
    declaration: (lexical_declaration
      "const" (variable_declarator name: (identifier) @name) @definition.const)))

; ---- where headers end
(function_declaration body: (statement_block "{" @name @reference.body))
(generator_function_declaration body: (statement_block "{" @name @reference.body))
(function_expression body: (statement_block "{" @name @reference.body))
(generator_function body: (statement_block "{" @name @reference.body))
(method_definition body: (statement_block "{" @name @reference.body))
(arrow_function "=>" @name @reference.body)
(class_declaration body: (class_body "{" @name @reference.body))
(class body: (class_body "{" @name @reference.body))
(variable_declarator
  "=" @name @reference.body
  value: [
    (number) (string) (template_string) (true) (false) (null) (undefined) (regex)
    (identifier) (member_expression) (subscript_expression) (call_expression)
    (new_expression) (object) (array) (binary_expression) (unary_expression)
    (ternary_expression) (parenthesized_expression) (await_expression)
  ])
(assignment_expression "=" @name @reference.body right: (object))
(pair ":" @name @reference.body value: (object))

; ---- calls (the grammar's tags.scm has the first two; `require` is an import)
(call_expression
  function: (identifier) @name
  (#not-eq? @name "require")) @reference.call
(call_expression
  function: (member_expression
    property: [(property_identifier) (private_property_identifier)] @name)) @reference.call
(new_expression
  constructor: [
    (identifier) @name
    (member_expression property: (property_identifier) @name)
  ]) @reference.call

; ---- imports
; import x, { a, b as c } from "m";   import * as ns from "m";   import "m";
(import_statement source: (string (string_fragment) @name)) @reference.import
(import_statement
  (import_clause
    [
      (identifier) @name
      (named_imports (import_specifier name: (_) @name))
    ])) @reference.imported
; export { a } from "m";   export * from "m";
(export_statement source: (string (string_fragment) @name)) @reference.import
(export_statement
  (export_clause (export_specifier name: (_) @name))
  source: (_)) @reference.imported
; const x = require("m");   const { a, b: c } = require("m");
(variable_declarator
  value: (call_expression
    function: (identifier) @local.reference
    arguments: (arguments . (string (string_fragment) @name)))
  (#eq? @local.reference "require")) @reference.import
(variable_declarator
  name: (object_pattern
    [
      (shorthand_property_identifier_pattern) @name
      (pair_pattern key: (property_identifier) @name)
    ])
  value: (call_expression
    function: (identifier) @local.reference
    (#eq? @local.reference "require"))) @reference.imported
; require("m") anywhere else;   import("m")
(call_expression
  function: (identifier) @local.reference
  arguments: (arguments . (string (string_fragment) @name))
  (#eq? @local.reference "require")) @reference.import
(call_expression
  function: (import)
  arguments: (arguments . (string (string_fragment) @name))) @reference.import
