"""Static material for the demo city: categories, the epidemic-services hub, name parts (the
places shops are named after are per city, in city_places.py)."""

from __future__ import annotations

CITIES = ("武汉", "北京", "上海", "杭州", "深圳", "广州")

# code, Chinese name, English name, urgent (epidemic-essential: expedited review)
CATEGORIES = (
    ("info", "信息查询", "Information", True),
    ("clinic", "在线问诊", "Online clinic", True),
    ("grocery", "生鲜买菜", "Groceries", True),
    ("medicine", "医药健康", "Medicine", True),
    ("health", "健康申报", "Health declaration", True),
    ("travel", "出行服务", "Travel", False),
    ("charity", "公益捐赠", "Donations", False),
    ("community", "社区服务", "Community", False),
    ("errands", "跑腿配送", "Errands & delivery", True),
    ("restaurant", "餐饮美食", "Restaurants", False),
    ("housekeeping", "家政服务", "Housekeeping", False),
    ("education", "教育培训", "Education", False),
)

# The epidemic-services hub: 10 sections, 48 services (name, category code, runtime or "external").
HUB = (
    (
        "疫情信息",
        "Epidemic information",
        "📊",
        [
            ("实时疫情数据", "info", "info"),
            ("风险地区查询", "info", "info"),
            ("核酸检测点查询", "info", "info"),
            ("疫苗接种点查询", "info", "info"),
            ("发热门诊查询", "info", "info"),
        ],
    ),
    (
        "在线问诊",
        "Online consultation",
        "🩺",
        [
            ("发热咨询", "clinic", "consultation"),
            ("心理援助热线", "clinic", "consultation"),
            ("儿科在线问诊", "clinic", "consultation"),
            ("慢病续方", "clinic", "consultation"),
            ("中医在线问诊", "clinic", "consultation"),
        ],
    ),
    (
        "生鲜买菜",
        "Grocery delivery",
        "🥬",
        [
            ("社区团购", "grocery", "storefront"),
            ("生鲜到家", "grocery", "storefront"),
            ("蔬菜直供", "grocery", "storefront"),
            ("粮油配送", "grocery", "storefront"),
            ("水果到家", "grocery", "storefront"),
        ],
    ),
    (
        "送药上门",
        "Medicine delivery",
        "💊",
        [
            ("药店送药", "medicine", "storefront"),
            ("处方药配送", "medicine", "storefront"),
            ("防疫物资", "medicine", "storefront"),
            ("口罩预约", "medicine", "external"),
        ],
    ),
    (
        "健康申报",
        "Health declaration",
        "📝",
        [
            ("健康码", "health", "external"),
            ("每日健康打卡", "health", "external"),
            ("返乡人员登记", "health", "external"),
            ("隔离人员申报", "health", "external"),
        ],
    ),
    (
        "出行变更",
        "Trip changes",
        "✈️",
        [
            ("机票退改", "travel", "external"),
            ("火车票退改", "travel", "external"),
            ("酒店退订", "travel", "external"),
            ("公交运营查询", "travel", "info"),
            ("景区预约调整", "travel", "external"),
        ],
    ),
    (
        "同行查询",
        "Same-trip lookup",
        "🔎",
        [
            ("同航班查询", "info", "external"),
            ("同车次查询", "info", "external"),
            ("同地铁查询", "info", "external"),
            ("确诊行程查询", "info", "info"),
        ],
    ),
    (
        "爱心捐赠",
        "Donations",
        "❤️",
        [
            ("抗疫捐款", "charity", "external"),
            ("物资捐赠", "charity", "info"),
            ("志愿者报名", "charity", "external"),
            ("医护人员关爱", "charity", "info"),
        ],
    ),
    (
        "社区服务",
        "Community services",
        "🏘️",
        [
            ("社区通行证", "community", "info"),
            ("物业报修", "community", "external"),
            ("社区公告", "community", "info"),
            ("居家隔离服务", "community", "storefront"),
            ("快递代收", "community", "storefront"),
        ],
    ),
    (
        "生活服务",
        "Daily life",
        "🧺",
        [
            ("跑腿代购", "errands", "storefront"),
            ("家政消毒", "housekeeping", "storefront"),
            ("在线教育", "education", "external"),
            ("远程办公", "education", "external"),
            ("心理疏导课程", "education", "consultation"),
            ("宠物代养", "housekeeping", "storefront"),
            ("水电缴费", "community", "external"),
        ],
    ),
)

TRADE_WORDS = {
    "info": ("资讯", "信息", "数据"),
    "clinic": ("诊所", "医馆", "健康"),
    "grocery": ("鲜果", "菜场", "生鲜", "粮油"),
    "medicine": ("大药房", "药店", "医药"),
    "health": ("健康", "防疫"),
    "travel": ("旅行社", "出行", "客运"),
    "charity": ("公益", "慈善"),
    "community": ("物业", "社区", "家园"),
    "errands": ("跑腿", "快送", "同城"),
    "restaurant": ("小馆", "面馆", "食堂", "餐厅"),
    "housekeeping": ("家政", "保洁"),
    "education": ("学堂", "教育", "书院"),
}
SHOP_SUFFIX = ("店", "坊", "中心", "服务社", "便民站")
ISV_NAMES = (
    "云帆科技",
    "小满软件",
    "星河数智",
    "青藤网络",
    "蓝鲸互联",
    "知行科技",
    "禾苗信息",
    "飞鸽系统",
    "千帆数科",
    "鹿鸣软件",
    "橙子科技",
    "晴空网络",
    "松果互动",
    "麦穗信息",
    "锦鲤科技",
    "白鹭数据",
    "竹林软件",
    "长风科技",
    "北辰网络",
    "南星智联",
    "极光小程序",
    "海豚开发",
    "银杏信息",
    "火花科技",
)
BRANDS = (
    "鲜丰水果",
    "老百姓大药房",
    "钱大妈",
    "益丰药房",
    "盒马",
    "百果园",
    "永辉超市",
    "叮咚买菜",
    "周黑鸭",
    "蔡林记",
    "良品铺子",
    "九州通",
    "同仁堂",
    "一心堂",
    "大参林",
    "美宜佳",
    "中百仓储",
    "武商",
    "卫生健康委",
    "红十字会",
    "顺丰同城",
    "达达快送",
    "好大夫",
    "微医",
    "京东健康",
    "阿里健康",
    "丁香医生",
    "平安好医生",
    "春雨医生",
    "妙手医生",
)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌海燕辉鹏宇浩然欣怡子涵梓轩"
)
