#include "engine/runtime/metadata.h"

#include <map>
#include <sstream>

#include "engine/core/errors.h"
#include "engine/core/files.h"

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
            if (const Json *v = inField("dtype")) {
                m.input.dtype = v->asString();
                m.input.dtypeDeclared = true;
            }
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
            if (const Json *v = inField("resize")) {
                if (v->asInt() <= 0) throw std::runtime_error("the shorter side must be positive");
                m.input.resize = int(v->asInt());
            }
            if (const Json *v = inField("center_crop")) {
                if (v->isNumber()) {
                    m.input.cropH = m.input.cropW = v->asInt();
                } else {
                    const auto c = v->asArray();
                    if (c.size() != 2) throw std::runtime_error("expected a size or [height, width]");
                    m.input.cropH = c[0].asInt();
                    m.input.cropW = c[1].asInt();
                }
                if (m.input.cropH <= 0 || m.input.cropW <= 0) throw std::runtime_error("the crop must be positive");
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
    if (m.input.resize > 0) in["resize"] = int64_t(m.input.resize);
    if (m.input.cropH > 0) in["center_crop"] = Json(Json::Array{Json(m.input.cropH), Json(m.input.cropW)});
    j["input"] = in;
    Json labels = Json::array();
    for (const auto &l : m.labels) labels.push(Json(l));
    j["labels"] = labels;
    Json sl = Json::array();
    for (const auto &l : m.suggestedLayers) sl.push(Json(l));
    j["suggested_layers"] = sl;
    return j;
}

namespace {

/// {"0": "a", "1": "b", …} → {"a", "b", …}; the ids must be 0…K−1.
std::vector<std::string> labelsFromIdDict(const Json &dict)
{
    std::map<int64_t, std::string> byId;
    for (const auto &[k, v] : dict.asObject()) {
        int64_t id = 0;
        if (!parseInteger(k, id)) throw std::runtime_error("the id '" + k.substr(0, 24) + "' is not an integer");
        byId[id] = v.asString();
    }
    std::vector<std::string> labels;
    int64_t next = 0;
    for (const auto &[id, label] : byId) {
        if (id != next++) throw std::runtime_error("ids must be 0, 1, 2, … without gaps");
        labels.push_back(label);
    }
    return labels;
}

/// `size` / `crop_size` as HF writes them: a number, {"height", "width"} or {"shortest_edge"}.
bool hfSize(const Json &v, int64_t &h, int64_t &w)
{
    if (v.isNumber()) {
        h = w = v.asInt();
        return true;
    }
    if (!v.isObject()) return false;
    if (const Json *hh = v.find("height"), *ww = v.find("width"); hh && ww) {
        h = hh->asInt();
        w = ww->asInt();
        return true;
    }
    if (const Json *e = v.find("shortest_edge")) {
        h = w = e->asInt();
        return true;
    }
    return false;
}

}   // namespace

ModelMetadata huggingFaceMetadata(const std::string &folder, bool &found)
{
    found = false;
    Json doc = Json::object();
    std::string text, origin, field;
    try {
        Json cfg;
        bool hf = false;
        if (readTextFile(folder + "/config.json", text)) {
            // Only a Hugging Face model config counts (another tool's config.json beside the model is not ours).
            try {
                cfg = Json::parse(text);
                hf = cfg.isObject() && (cfg.find("id2label") || cfg.find("model_type") || cfg.find("architectures"));
            } catch (const std::exception &) {
                hf = false;
            }
        }
        if (hf) {
            found = true;
            origin = folder + "/config.json";
            if (const Json *id2label = cfg.find(field = "id2label")) {
                Json labels = Json::array();
                for (const std::string &l : labelsFromIdDict(*id2label)) labels.push(Json(l));
                doc["labels"] = labels;
                doc["task"] = "classification";
            }
            if (const Json *name = cfg.find(field = "_name_or_path"); name && name->isString()) doc["name"] = name->asString();
        }
        if (readTextFile(folder + "/preprocessor_config.json", text)) {
            found = true;
            origin = folder + "/preprocessor_config.json";
            const Json pre = Json::parse(text);
            Json in = Json::object();
            in["channel_order"] = "rgb";
            if (const Json *m = pre.find(field = "image_mean")) in["mean"] = *m;
            if (const Json *s = pre.find(field = "image_std")) in["std"] = *s;
            // Pixels are rescaled by rescale_factor (1/255: to [0, 1]) before mean/std.
            const Json *rescale = pre.find(field = "rescale_factor");
            const double scale = rescale ? rescale->asNumber() : 1.0 / 255.0;
            in["range"] = Json(Json::Array{Json(0.0), Json(255.0 * scale)});
            int64_t h = 0, w = 0;
            const Json *crop = pre.find("crop_size");
            const Json *size = pre.find("size");
            if (size && size->isObject() && size->find("shortest_edge")) in["resize"] = size->find("shortest_edge")->asInt();
            if (crop && hfSize(*crop, h, w)) in["center_crop"] = Json(Json::Array{Json(h), Json(w)});
            field = crop ? "crop_size" : "size";
            if ((crop && hfSize(*crop, h, w)) || (size && hfSize(*size, h, w)))
                in["shape"] = Json(Json::Array{Json(int64_t(1)), Json(int64_t(3)), Json(h), Json(w)});
            doc["input"] = in;
        }
    } catch (const std::exception &e) {
        throw Error(ErrorCode::BadMetadata, "Invalid " + origin + " (field '" + field + "'): " + e.what());
    }
    if (!found) return ModelMetadata();
    ModelMetadata m = parseMetadata(doc.dump(), "huggingface", folder + " (config.json / preprocessor_config.json)");
    return m;
}

std::vector<std::string> readLabelsFile(const std::string &path)
{
    std::string text;
    if (!readTextFile(path, text)) throw Error(ErrorCode::FileNotFound, "Labels file not found: " + path);
    std::vector<std::string> labels;
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) {
        try {
            const Json j = Json::parse(text);
            if (j.isArray()) {
                for (const Json &l : j.asArray()) labels.push_back(l.asString());
            } else {
                labels = labelsFromIdDict(j);
            }
        } catch (const std::exception &e) {
            throw Error(ErrorCode::BadInput, "Invalid labels file " + path + ": " + e.what());
        }
    } else {
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty()) labels.push_back(line);
        }
    }
    if (labels.empty()) throw Error(ErrorCode::BadInput, "The labels file " + path + " holds no label");
    return labels;
}

bool inputIsLong(const InputSpec &spec, const TensorValue &input)
{
    if (spec.dtype == "int64") return true;
    if (spec.dtypeDeclared) return false;
    return input.dtype() == "int64" || input.dtype() == "int32" || input.dtype() == "int16" || input.dtype() == "int8";
}

std::string inputDtypeNote(const InputSpec &spec, const TensorValue &input)
{
    const bool asLong = inputIsLong(spec, input);
    const std::string used = asLong ? "int64" : "float32";
    if (input.dtype() == used) return {};
    if (asLong && !input.isInteger()) return "the input's " + input.dtype() + " values are used as int64, as the model's input is declared";
    if (spec.dtypeDeclared) return "the input's " + input.dtype() + " values are converted to " + used + ", the model's declared input type";
    if (asLong) return {};   // int32 / int16 ids run as int64: same values
    return "the input's " + input.dtype() + " values are converted to float32";
}

}   // namespace pellucid
