// Placeholder: the plugin ABI is defined by its issue.
#pragma once
