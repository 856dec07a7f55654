; JavaScript only (the TypeScript grammar names these nodes differently).

; class fields holding a function are methods: `onClick = () => {}`
(field_definition
  property: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.method
