#pragma once

namespace ringbox::host {
int host_main(int argc, char** argv);
}
