# Embeds docs/openapi.json into the binary so that /openapi.json serves the document in the repo.
file(READ "${IN}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE "${OUT}" "// Generated from docs/openapi.json by cmake/embed_openapi.cmake. Do not edit.\n#include <string_view>\nnamespace memberflow::api {\nstatic const unsigned char kDoc[] = {${bytes} 0x00};\nstd::string_view openapiDocument() { return {reinterpret_cast<const char*>(kDoc), sizeof(kDoc) - 1}; }\n}\n")
