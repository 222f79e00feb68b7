#pragma once

namespace ringbox::guest {
int agent_main(int argc, char** argv);
}
