; Java (baseline; see src/code/lang/mod.rs for captures). import a.b.C;  import a.b.*;
(import_declaration [(scoped_identifier) (identifier)] @name) @reference.import
