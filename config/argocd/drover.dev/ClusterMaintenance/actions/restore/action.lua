-- Argo CD action "restore" on a drover.dev ClusterMaintenance: sets the command annotation.
local os = require("os")
if type(obj.metadata.annotations) ~= "table" then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["drover.dev/maintenance-command"] = "restore@" .. os.date("!%Y-%m-%dT%XZ")
return obj
