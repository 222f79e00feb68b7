// ringbox-submitd's command line: options -> ServerConfig, signals, the accept loop.
// docs/ringbox-submitd.md is the manual.
#pragma once

namespace ringbox::submitd {

int submitd_main(int argc, char** argv);

}  // namespace ringbox::submitd
