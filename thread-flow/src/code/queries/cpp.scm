; C++ (baseline; see src/code/lang/mod.rs for captures). #include <a.h>  #include "b.h"
(preproc_include
  path: [
    (string_literal (string_content) @name)
    (system_lib_string) @name
  ]) @reference.import
