// The one way a `ringbox-host` subcommand reads its words with Boost.Program_options.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace ringbox::host {

// Stores args into vm by desc. With --help it prints desc and returns 0, the status to exit
// with; otherwise it runs po::notify and returns nullopt. A malformed word throws po::error,
// which `ringbox-host`'s dispatcher reports with the subcommand's name.
inline std::optional<int> parse_command_options(
    const std::vector<std::string>& args, const boost::program_options::options_description& desc,
    boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  po::notify(vm);
  return std::nullopt;
}

}  // namespace ringbox::host
