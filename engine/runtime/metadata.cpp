#include "engine/runtime/metadata.h"

#include "engine/core/errors.h"

namespace pellucid {
namespace {

std::vector<float> floats(const Json &j)
{
    std::vector<float> out;
    if (j.isNumber()) {
        out.push_back(float(j.asNumber()));
        return out;
    }
    for (const Json &v : j.asArray()) out.push_back(float(v.asNumber()));
    return out;
}

}   // namespace

ModelMetadata parseMetadata(const std::string &text, const std::string &source, const std::string &origin)
{
    ModelMetadata m;
    m.source = source;
    std::string field;
    try {
        m.raw = Json::parse(text);
        if (!m.raw.isObject()) throw std::runtime_error("the document is not a JSON object");
        if (const Json *v = m.raw.find(field = "name")) m.name = v->asString();
        if (const Json *v = m.raw.find(field = "task")) m.task = v->asString();
        if (const Json *v = m.raw.find(field = "labels"))
            for (const Json &l : v->asArray()) m.labels.push_back(l.asString());
        if (const Json *v = m.raw.find(field = "suggested_layers"))
            for (const Json &l : v->asArray()) m.suggestedLayers.push_back(l.asString());
        if (const Json *in = m.raw.find("input")) {
            field = "input";
            (void)in->asObject();
            auto inField = [&](const char *key) {
                field = std::string("input.") + key;
                return in->find(key);
            };
            if (const Json *v = inField("shape")) {
                for (const Json &d : v->asArray()) {
                    if (d.asInt() <= 0) throw std::runtime_error("dimensions must be positive");
                    m.input.shape.push_back(d.asInt());
                }
            }
            if (const Json *v = inField("layout")) m.input.layout = v->asString();
            if (const Json *v = inField("channel_order")) m.input.channelOrder = v->asString();
            if (const Json *v = inField("dtype")) m.input.dtype = v->asString();
            if (const Json *v = inField("range")) {
                const auto r = floats(*v);
                if (r.size() != 2 || !(r[1] > r[0])) throw std::runtime_error("expected [low, high] with low < high");
                m.input.rangeLo = r[0];
                m.input.rangeHi = r[1];
            }
            if (const Json *v = inField("mean")) m.input.mean = floats(*v);
            if (const Json *v = inField("std")) {
                m.input.std = floats(*v);
                for (float s : m.input.std)
                    if (!(s > 0)) throw std::runtime_error("standard deviations must be positive");
            }
            field = "input.mean/std";
            if (m.input.mean.size() != m.input.std.size()) throw std::runtime_error("mean and std must have the same length");
            if (m.input.dtype != "float32" && m.input.dtype != "int64") throw std::runtime_error("dtype must be float32 or int64");
        }
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadMetadata,
                    "Invalid model metadata in " + origin + (field.empty() ? "" : " (field '" + field + "')") + ": " + e.what());
    }
    return m;
}

Json metadataToJson(const ModelMetadata &m)
{
    Json j = Json::object();
    j["source"] = m.source;
    j["name"] = m.name;
    j["task"] = m.task;
    Json in = Json::object();
    Json shape = Json::array();
    for (int64_t d : m.input.shape) shape.push(Json(d));
    in["shape"] = shape;
    in["layout"] = m.input.layout;
    in["channel_order"] = m.input.channelOrder;
    in["dtype"] = m.input.dtype;
    in["range"] = Json(Json::Array{Json(double(m.input.rangeLo)), Json(double(m.input.rangeHi))});
    Json mean = Json::array(), sd = Json::array();
    for (float v : m.input.mean) mean.push(Json(double(v)));
    for (float v : m.input.std) sd.push(Json(double(v)));
    in["mean"] = mean;
    in["std"] = sd;
    j["input"] = in;
    Json labels = Json::array();
    for (const auto &l : m.labels) labels.push(Json(l));
    j["labels"] = labels;
    Json sl = Json::array();
    for (const auto &l : m.suggestedLayers) sl.push(Json(l));
    j["suggested_layers"] = sl;
    return j;
}

}   // namespace pellucid
