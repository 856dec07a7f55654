; Java, before the grammar's tags.scm (classes, interfaces, methods, method calls). See
; src/code/lang/mod.rs for what each capture means.

; ---- definitions tags.scm lacks (Universal Ctags reports all of these)
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.class
; `@interface Audit { ... }`: an annotation type is an interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
; `String value() default "";` inside an annotation type
(annotation_type_element_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
; `record Point(int x, int y) { Point { ... } }`
(compact_constructor_declaration name: (identifier) @name) @definition.method
; `package a.b;`
(package_declaration [(scoped_identifier) (identifier)] @name) @definition.module

; ---- imports: `import a.b.C;`, `import a.b.*;`, `import static a.b.C.m;` (the module as written)
(import_declaration [(scoped_identifier) (identifier)] @name) @reference.import

; ---- calls: `new Foo(...)`, `new a.Foo<>(...)` call Foo's constructor (method calls come
; from tags.scm)
(object_creation_expression
  type: [
    (type_identifier) @name
    (generic_type (type_identifier) @name)
    (scoped_type_identifier (type_identifier) @name .)
    (generic_type (scoped_type_identifier (type_identifier) @name .))
  ]) @reference.call
; `this(...)` / `super(...)` in a constructor are calls too, but name no symbol: left out.

; ---- where headers end (signatures stop there)
(class_declaration body: (class_body "{" @name @reference.body))
(record_declaration body: (class_body "{" @name @reference.body))
(enum_declaration body: (enum_body "{" @name @reference.body))
(interface_declaration body: (interface_body "{" @name @reference.body))
(annotation_type_declaration body: (annotation_type_body "{" @name @reference.body))
(method_declaration body: (block "{" @name @reference.body))
(constructor_declaration body: (constructor_body "{" @name @reference.body))
(compact_constructor_declaration body: (block "{" @name @reference.body))
