-- Argo CD action "rollback" on a drover.dev ProdSet: what kubectl drover rollout rollback does.
-- drover acts once on each distinct value of the annotation (status.observedRolloutCommand).
local os = require("os")
if type(obj.metadata.annotations) ~= "table" then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["drover.dev/rollout-command"] = "rollback@" .. os.date("!%Y-%m-%dT%XZ")
return obj
