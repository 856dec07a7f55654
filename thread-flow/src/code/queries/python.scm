; Python definitions, imports and header ends (see src/code/lang/mod.rs for captures).
; Earlier patterns win over later ones (and over the grammar's tags.scm) for the same name.

; ---- methods: functions directly in a class body
(class_definition
  body: (block
    [
      (function_definition name: (identifier) @name) @definition.method
      (decorated_definition
        definition: (function_definition name: (identifier) @name) @definition.method)
    ]))

; ---- functions and classes
(function_definition name: (identifier) @name) @definition.function
(class_definition name: (identifier) @name) @definition.class
; f = lambda x: ...   (also in a class body: a method-like attribute, still a function)
(assignment
  left: (identifier) @name
  right: (lambda)) @definition.function

; ---- where headers end
(function_definition ":" @name @reference.body)
(class_definition ":" @name @reference.body)
(lambda ":" @name @reference.body)

; ---- imports
; import a.b, c as d
(import_statement
  name: [
    (dotted_name) @name
    (aliased_import name: (dotted_name) @name)
  ]) @reference.import
; from a.b import c, d as e   from . import x   from a import *
(import_from_statement module_name: (_) @name) @reference.import
(import_from_statement
  name: [
    (dotted_name) @name
    (aliased_import name: (dotted_name) @name)
  ]) @reference.imported
(future_import_statement "__future__" @name) @reference.import
(future_import_statement
  name: [
    (dotted_name) @name
    (aliased_import name: (dotted_name) @name)
  ]) @reference.imported
