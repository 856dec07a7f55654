; C++, before the grammar's tags.scm. See src/code/lang/mod.rs for what each capture means.
; tags.scm tags every function declarator (declarations too, and only the declarator, so a
; function's range would not hold its body) and calls structs "class": the patterns here
; come first and claim those names with their real kinds and ranges.

; ---- namespaces: `namespace a {`, `namespace a::b {` (named after its last part)
(namespace_definition name: (namespace_identifier) @name) @definition.module
(namespace_definition
  name: (nested_namespace_specifier (namespace_identifier) @name .)) @definition.module

; ---- classes, structs, unions, enums (only with a body), also specializations
; `struct S<T*> {` and out-of-line nested ones `struct A::B {`
(class_specifier name: (type_identifier) @name body: (_)) @definition.class
(class_specifier name: (template_type name: (type_identifier) @name) body: (_)) @definition.class
(class_specifier name: (qualified_identifier name: (type_identifier) @name) body: (_)) @definition.class
(class_specifier
  name: (qualified_identifier name: (template_type name: (type_identifier) @name))
  body: (_)) @definition.class
(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct
(struct_specifier name: (template_type name: (type_identifier) @name) body: (_)) @definition.struct
(struct_specifier name: (qualified_identifier name: (type_identifier) @name) body: (_)) @definition.struct
(struct_specifier
  name: (qualified_identifier name: (template_type name: (type_identifier) @name))
  body: (_)) @definition.struct
(union_specifier name: (type_identifier) @name body: (_)) @definition.union
(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum

; ---- type aliases: `using T = U;`, and C typedefs (see c.scm)
(alias_declaration name: (type_identifier) @name) @definition.type
(type_definition declarator: (type_identifier) @name) @definition.type
; `typedef intptr_t ssize_t;`: the grammar knows some typedef names as primitive types
(type_definition declarator: (primitive_type) @name) @definition.type
(type_definition declarator: (_ declarator: (type_identifier) @name)) @definition.type
(type_definition declarator: (_ declarator: (_ declarator: (type_identifier) @name))) @definition.type
; typedef int (name)(int);  typedef T *(name)(int);  typedef void (APIENTRYP name)(int);
(type_definition
  declarator: (function_declarator
    declarator: (parenthesized_declarator (type_identifier) @name))) @definition.type
(type_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (parenthesized_declarator (type_identifier) @name)))) @definition.type
(type_definition
  declarator: (function_declarator
    declarator: (parenthesized_declarator
      (_ declarator: (type_identifier) @name)))) @definition.type
(type_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (parenthesized_declarator
        (_ declarator: (type_identifier) @name))))) @definition.type

; ---- macros
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

; ---- functions and methods: the whole definition. Return types may wrap the declarator
; (`T* f()`, `T& f()`, `T** f()`).
; methods defined in their class body (a constructor reads as an identifier: `A() {}`)
(field_declaration_list
  (function_definition
    declarator: [
      (function_declarator
        declarator: [(field_identifier) (identifier) (destructor_name) (operator_name)] @name)
      (_ (function_declarator
        declarator: [(field_identifier) (identifier) (operator_name)] @name))
      (_ (_ (function_declarator declarator: [(field_identifier) (identifier)] @name)))
    ]) @definition.method)
(field_declaration_list
  (template_declaration
    (function_definition
      declarator: [
        (function_declarator
          declarator: [(field_identifier) (identifier) (destructor_name) (operator_name)] @name)
        (_ (function_declarator
          declarator: [(field_identifier) (identifier) (operator_name)] @name))
        (_ (_ (function_declarator declarator: [(field_identifier) (identifier)] @name)))
      ]) @definition.method))
; functions (also friends defined in a class body)
(function_definition
  declarator: (function_declarator
    declarator: [(identifier) (operator_name)] @name)) @definition.function
(function_definition
  declarator: (_ (function_declarator
    declarator: [(identifier) (operator_name)] @name))) @definition.function
(function_definition
  declarator: (_ (_ (function_declarator declarator: (identifier) @name)))) @definition.function
; methods defined out of line: `void A::f() {`, `A<T>::~A() {`, `T& A::operator=(...) {`,
; `void a::B::f() {`, `void A::f<int>() {`
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier
      name: [
        (identifier) @name
        (destructor_name) @name
        (operator_name) @name
        (template_function name: (identifier) @name)
        (qualified_identifier name: (identifier) @name)
        (qualified_identifier name: (destructor_name) @name)
        (qualified_identifier name: (operator_name) @name)
        (qualified_identifier name: (qualified_identifier name: (identifier) @name))
      ]))) @definition.method
(function_definition
  declarator: (_ (function_declarator
    declarator: (qualified_identifier
      name: [
        (identifier) @name
        (operator_name) @name
        (template_function name: (identifier) @name)
        (qualified_identifier name: (identifier) @name)
        (qualified_identifier name: (operator_name) @name)
      ])))) @definition.method
(function_definition
  declarator: (_ (_ (function_declarator
    declarator: (qualified_identifier name: (identifier) @name))))) @definition.method
; `class EXPORT_MACRO Name {` that the preparation step (lang/cpp.rs) could not clean reads as
; a function named Name whose type is `class EXPORT_MACRO`
(function_definition
  type: (class_specifier !body)
  declarator: (identifier) @name) @definition.class
(function_definition
  type: (struct_specifier !body)
  declarator: (identifier) @name) @definition.struct

; a class body the grammar cannot finish (`template <class K> friend class F;` inside it)
; leaves an ERROR that starts `class Name {`
(ERROR . "class" . (type_identifier) @name . "{") @definition.class
(ERROR . "struct" . (type_identifier) @name . "{") @definition.struct

; ---- forward declarations and uses (`class A;`, `enum e x;`, `union u v;`) only name a
; type: keep tags.scm off them
(struct_specifier name: (_) @ignore !body)
(union_specifier name: (_) @ignore !body)
(enum_specifier name: (_) @ignore !body)
(class_specifier name: (_) @ignore !body)

; ---- declarations (`void f();` in a class or header) declare, they do not define: keep
; tags.scm off them
(function_declarator declarator: (_) @ignore)

; ---- imports: #include <a.h>, #include "b.h"
(preproc_include
  path: [
    (string_literal (string_content) @name)
    (system_lib_string) @name
  ]) @reference.import

; ---- calls: `f()`, `a.f()`, `p->f()`, `ns::f()`, `f<T>()`, `ns::f<T>()`, `a.f<T>()`,
; `new T(...)` calls T's constructor
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression field: (field_identifier) @name)) @reference.call
(call_expression
  function: (field_expression field: (template_method name: (field_identifier) @name))) @reference.call
(call_expression function: (qualified_identifier name: (identifier) @name)) @reference.call
(call_expression
  function: (qualified_identifier
    name: (qualified_identifier name: (identifier) @name))) @reference.call
(call_expression function: (template_function name: (identifier) @name)) @reference.call
(call_expression
  function: (qualified_identifier
    name: (template_function name: (identifier) @name))) @reference.call
(new_expression
  type: [
    (type_identifier) @name
    (template_type name: (type_identifier) @name)
    (qualified_identifier name: (type_identifier) @name)
  ]) @reference.call

; ---- where headers end
(function_definition body: (compound_statement "{" @name @reference.body))
(class_specifier body: (field_declaration_list "{" @name @reference.body))
(struct_specifier body: (field_declaration_list "{" @name @reference.body))
(union_specifier body: (field_declaration_list "{" @name @reference.body))
(enum_specifier body: (enumerator_list "{" @name @reference.body))
(namespace_definition body: (declaration_list "{" @name @reference.body))
