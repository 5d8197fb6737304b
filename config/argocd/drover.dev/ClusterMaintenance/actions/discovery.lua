-- Argo CD actions of a drover.dev ClusterMaintenance: restore ends the maintenance (the
-- cluster's Prods come back into traffic, as deleting it would, and the object Git keeps
-- stays), drain starts a restored one over. Each sets drover.dev/maintenance-command;
-- drover acts once on each distinct value (status.observedCommand).
local st = obj.status
local restored = false
local pending = false
if type(st) == "table" then
  restored = st.restoreTime ~= nil
  if type(obj.metadata) == "table" and type(obj.metadata.annotations) == "table" then
    local v = obj.metadata.annotations["drover.dev/maintenance-command"]
    -- A command drover has not read yet would be replaced.
    pending = v ~= nil and v ~= "" and v ~= st.observedCommand
  end
end
local deleting = type(obj.metadata) == "table" and obj.metadata.deletionTimestamp ~= nil
return {
  restore = {disabled = pending or deleting or restored},
  drain = {disabled = pending or deleting or not restored},
}
